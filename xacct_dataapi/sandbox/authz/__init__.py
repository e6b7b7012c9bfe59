"""AWS's authorization in the sandbox: policies (policy.py), the decision (decide.py), what a request asks for
(resources.py, resources_net.py), the private path (private.py), and the hook into moto (enforce.py).
docs/sandbox.md lists what is enforced and what is not."""
