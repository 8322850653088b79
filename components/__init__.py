"""ComponentResources of the platform, one per file, and the resource builders they share.

Components take typed args (config models and other components' outputs) and register resources;
they never read the stack config themselves and never import the composition.
"""
