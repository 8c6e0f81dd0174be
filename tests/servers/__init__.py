"""Real servers for the integration and end-to-end tests, started on loopback.

Each module starts one kind of server as a child process with its state in a
temporary directory, waits until it answers, and stops it again. Nothing here
fakes a server: fixtures in ``tests/conftest.py`` hand these to the tests.
"""
