"""Offline tooling: run the program on Pulumi's mock runtime, snapshot it, preview it."""
