pytest_plugins = [
    "tests.servers.control_fixtures",
    "tests.servers.data_fixtures",
]
