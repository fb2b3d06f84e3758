"""The only package that imports escnn: it turns a resolved Design into escnn modules, projects their bases
onto the exact intertwiners, and lowers them to the plain-torch modules of ``eqdesign.export``.

Importing it imports torch and escnn (slow, and optional dependencies); ``check`` never does.
"""
