"""End-to-end acceptance scenarios: the real ``syncd`` command against fake sources and real
alert receivers, all on 127.0.0.1 (see README.md beside this file)."""
