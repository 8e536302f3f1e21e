"""Each verb's arguments and engine call, by what it acts on (running.py, containers.py,
images.py, manage.py, compose.py) on the parts they share (base.py); commands.VERBS names
them, once each, with their lines and their notebook view."""
