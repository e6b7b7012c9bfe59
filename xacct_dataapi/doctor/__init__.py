"""`xacct doctor`: check every link of the cross-account chain, name the broken one, and catch what nobody
else sees (an extra grant added by hand). Read-only. Checks are data (model.Check); run.run gives a DoctorReport."""
from xacct_dataapi.doctor.model import Check, DoctorReport
from xacct_dataapi.doctor.run import run

__all__ = ["Check", "DoctorReport", "run"]
