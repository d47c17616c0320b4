"""A pure-Python demo package, built into a py3-none-any wheel by the farm."""


def greet(name="Raspberry Pi"):
    return "Hello, {}! This wheel came from your own farm.".format(name)
