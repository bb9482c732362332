"""The burst policy pack for `pulumi preview --policy-pack policies/crossguard` (CrossGuard).

Everything is in `burst_platform.check.crossguard`: this file only starts it.
"""

from burst_platform.check.crossguard import serve

serve()
