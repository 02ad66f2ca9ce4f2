"""The dashboard (``make dashboard``): a Streamlit app on the marts, read under the viewer's
row-level security (docs/dashboard.md)."""
