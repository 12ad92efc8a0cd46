"""neurotrio: ULW-SleepNet, MPFNet and FSL-SNN made usable.

Importing the package pulls in no heavy dependency; each system imports what it needs.
"""

__version__ = "0.1.0"
