"""Out-of-band management of hosts: their BMCs, reached over IPMI or Redfish.

The host HA monitor fences a host it cannot prove alive by powering it off through its
BMC and reading the power state back (``service.issue_power_action``).
"""
