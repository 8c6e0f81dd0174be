"""The canonical contact model and the pure logic around it: minimization, consent, identity."""
