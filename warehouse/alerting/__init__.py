"""Alerts: rules over the monitoring models and run status, stored once in ``monitoring.alerts``,
logged, and posted to a webhook when the caller gives one (Dagster: ``ALERT_WEBHOOK_URL``)."""
