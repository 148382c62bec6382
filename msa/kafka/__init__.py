"""ZooKeeper and Kafka: the broker pod's settings (settings.py, pure), the reassignment planner
(reassign.py, pure, also shipped into the Jobs), the day-two Jobs' scripts and inputs (jobs.py), the
storage guard (storage.py) and the components (cluster.py); scripts/ holds what runs in the pods."""
