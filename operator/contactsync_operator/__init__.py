"""The ContactSync operator: reconciles ContactSync resources into workers and schedules."""
