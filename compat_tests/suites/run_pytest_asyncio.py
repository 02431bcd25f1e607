#!/usr/bin/env python3
"""Runs pytest-asyncio's own test suite on stock asyncio and eloop: run.py --suite pytest-asyncio [options]."""

import sys

import run

if __name__ == "__main__":
    sys.exit(run.main(["--suite", "pytest-asyncio", *sys.argv[1:]]))
