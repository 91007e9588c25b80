//! OpenMetrics text and the Pushgateway: not written yet.
