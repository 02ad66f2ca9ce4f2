"""Exports of the marts for other tools."""
