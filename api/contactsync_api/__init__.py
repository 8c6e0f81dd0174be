"""ContactSync's API: what the operator, the worker and the people who write manifests agree on.

The spec and status of the custom resources and their CRDs (``spec``, ``status``, ``crd``,
``egress_policy``), the reasons their conditions give (``reasons``), the validation rules
shared by CRD and model (``rules``), the files a worker is given (``runtime``), the kinds of
source and destination (``kinds``), the workflows' inputs and outputs (``workflows``) and the
error vocabulary (``errors``). It imports no other part of the project; the operator and the
worker both import it.
"""
