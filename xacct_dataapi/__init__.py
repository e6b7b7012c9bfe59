"""xacct: cross-account RDS Data API access over AWS PrivateLink."""

__version__ = "0.1.0"
