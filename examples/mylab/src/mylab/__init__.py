"""mylab: a user's own GAN networks, trained by ganbench through their class paths (``mylab.nets.MyGenerator``)."""
