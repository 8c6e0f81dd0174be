"""The ``contactsync`` command: one entry point for the image and for people."""
