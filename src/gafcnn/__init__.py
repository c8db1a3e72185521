"""gafcnn: do CNNs on Gramian Angular Field images of 1-minute bars predict direction?"""

__version__ = "0.1.0"
