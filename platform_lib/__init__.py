"""The pure library: facts and planning defined once, with no Pulumi resources and no provider SDK.

Tools, config checks, components and the policy pack may all import it; it imports none of them.
"""
