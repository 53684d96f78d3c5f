"""Live captions: Whisper on the programme's audio, sent into the stream as CEA-608 captions.

Modules: ``layout`` (committed words as two roll-up lines in CEA-608's limits: pure).
"""
