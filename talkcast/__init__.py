"""talkcast: put tech talks on video, from OBS on the night to captioned uploads."""

__version__ = "0.1.0"
