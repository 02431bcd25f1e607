#!/usr/bin/env python3
"""Runs anyio's own test suite on stock asyncio and eloop: run.py --suite anyio [options]."""

import sys

import run

if __name__ == "__main__":
    sys.exit(run.main(["--suite", "anyio", *sys.argv[1:]]))
