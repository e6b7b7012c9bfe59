"""AWS's policy evaluation logic, pure Python: statements and their conditions (policy.py), and the decision for one
request from the identity and resource policies that apply (decide.py), each rule with its source.

Two users: the sandbox's authorization (sandbox/authz/), which answers every request with it, and doctor
(doctor/simulation.py), which adds the secret's and the key's own policies to what IAM's simulation says of the
role's identity policies. It lives here, below both, because doctor runs against real AWS and must not import the
sandbox."""
