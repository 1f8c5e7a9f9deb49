"""Fault injection over the whole service: fake servers that fail on purpose, a zygote that
starts ``syncd run`` quickly, and the invariants every fault test checks."""
