"""beatrun: running playlists whose beat matches your cadence."""

__version__ = "0.1.0"
