#!/usr/bin/env python3
"""Runs aiohttp's own test suite on stock asyncio and eloop: run.py --suite aiohttp [options]."""

import sys

import run

if __name__ == "__main__":
    sys.exit(run.main(["--suite", "aiohttp", *sys.argv[1:]]))
