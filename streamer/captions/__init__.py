"""Live captions: Whisper on the programme's audio, sent into the stream as CEA-608 captions.

With ``[captions] live = true``, ``talkcast live`` runs one captioner process beside the
relay. It reads the programme's audio from the relay's local ingest (one ffmpeg, 16 kHz
mono, with OBS's stream timestamps), recognises it with a sliding window, and sends back
the words that became final; ``talkcast live`` lays them out as two roll-up lines and
hands them to OBS (``SendStreamCaption`` on the controller's one connection), which embeds
them in the video as CEA-608 (CC1). YouTube shows them under the CC button.

Modules, from the screen down:

* ``captioner`` (in ``talkcast live``): owns the process, follows what is on air
  (captions for a talk and its Q&A; none in breaks or for a talk that must not be
  recorded), sends the captions, writes ``live-transcript.jsonl``;
* ``layout``: words as two lines of 32 in the 608 character set, around OBS's quirks
  (pure);
* ``protocol``: the JSON lines on the process's stdin and stdout (pure);
* ``worker``: the process (``python -m talkcast.streamer.captions.worker``): its reader
  thread, its pass loop, its CPU cap and how it drops audio rather than fall behind;
* ``audio``: the reader's ffmpeg arguments (pure) and the ring its samples wait in;
* ``recognizer``: one pass of streaming recognition over the window, and the Whisper
  pass it runs (``WhisperDecoder``);
* ``agreement``: which words are final: LocalAgreement-2 with settling (pure).
"""
