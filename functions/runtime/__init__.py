"""The function runtime: what OpenFaaS's watchdog is to a function, this is to a vsbench handler."""
