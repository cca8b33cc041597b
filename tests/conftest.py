"""Shared test set-up: a non-interactive plotting backend and the quick profile."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
os.environ.setdefault("COURSE_PROFILE", "quick")
