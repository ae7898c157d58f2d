"""Host HA: investigate a silent host, fence it, then restart its HA VMs elsewhere.

The rule (docs/ha.md, "Host HA"): a VM is started elsewhere only after its old host is
proven off, by a fence whose power STATUS reads back Off or by an activity check that saw
neither the host nor its VMs write anything for ``ha_activity_period``. Anything less
leaves the host Degraded with an alert, and nothing restarted.

* ``states``: CloudStack's HA states, the moves allowed between them, and their events;
* ``config``: the commands' side (configure, enable, disable, list);
* ``monitor``: the worker that watches heartbeats and submits investigations;
* ``investigation``: the job that asks the neighbours, decides, fences and recovers.
"""
