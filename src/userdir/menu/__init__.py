"""The menu domain: a restaurant's items and the item -> modifier links between them.

values.py holds its typed rows and writes, render.py writes nested menus as JSON text,
invariants.py checks the graph (no cycle, bounded depth), document.py reads whole-menu
documents, sizes.py remembers nested sizes per version, gc_pause.py pauses the cycle collector
while a large menu is built. The SQL is in queries/menu.py and queries/menu_writes.py, the wire
format in schemas/menu.py and schemas/menu_in.py, the handlers in handlers/menu.py,
menu_writes.py and restaurants.py.
"""
