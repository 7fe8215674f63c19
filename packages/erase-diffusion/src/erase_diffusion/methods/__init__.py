"""Erasure methods, one module each: ``uce``, ``rece``, ``esd``, ``mace``.

Each module holds its typed config (a :class:`unlearn_schema.MethodParams`), a docstring
with the paper and the equation, and one entry function. They import torch, so this
package imports none of them eagerly.
"""
