"""Alerts: rules over the monitoring models and run status, stored once in ``monitoring.alerts``,
logged, and posted to ``ALERT_WEBHOOK_URL`` when it is set."""
