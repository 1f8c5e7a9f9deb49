"""Each source's glue beyond fetch-and-normalize: tokens, quota, webhook events, commands."""
