"""The file source's glue: which folders each athlete's files come from."""
