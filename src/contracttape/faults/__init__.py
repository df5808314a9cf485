"""Fault injection over replayed and recorded traffic: rate limits, outages, timeouts, resets,
slow, truncated, malformed and cut answers, served in the real services' own shapes.

``spec.Fault`` is what a test declares (marker ``faults=[...]``, or the ``contracttape_faults``
fixture); ``plan.FaultPlan`` decides, per test, which request gets which fault (and ``--chaos``
adds random transient ones); ``answers`` builds the answers; ``transport`` the exceptions. The
engine (``session``) and the vcrpy bridge (``_vcr``) serve them: a fault is served instead of
the recorded answer (which stays for the retry) and, when recording, instead of sending (nothing
is sent, spent or written).
"""

from contracttape.faults.plan import Chaos, Decision, FaultPlan
from contracttape.faults.spec import KINDS, TRANSIENT, Fault

__all__ = ["KINDS", "TRANSIENT", "Chaos", "Decision", "Fault", "FaultPlan"]
