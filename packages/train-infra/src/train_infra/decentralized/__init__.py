"""Fully decentralized learning on a peer-to-peer graph that is disrupted over time.

Seed: *Exploring the Impact of Disrupted Peer-to-Peer Communications on Fully
Decentralized Learning in Disaster Scenarios*. Nodes of a Barabási–Albert graph train
locally and average their models with their neighbours (gossip); chosen nodes drop out
at chosen rounds, either nodes that hold data or nodes that only relay (connectivity).
"""
