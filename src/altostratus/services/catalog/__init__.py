"""What VMs are made from: service and disk offerings, OS types and templates."""
