"""event.toml: typed, strict, and every error names the file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from talkcast.config import load_config, model_path
from talkcast.errors import ConfigError

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def write(tmp_path: Path, text: str, name: str = "event.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, environ=environ or {})
    return str(info.value)


MINIMAL = '[event]\nname = "SRE Meetup #12"\noutput_dir = "out"\n'


def test_smallest_valid_file_resolves_paths_against_its_folder(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, MINIMAL), environ={})
    assert cfg.event.name == "SRE Meetup #12"
    assert cfg.output_dir == (tmp_path / "out").resolve()
    assert cfg.transcribe.model == {"en": "tiny.en", "default": "auto"}
    assert cfg.recording.mode == "smart"


def test_config_objects_are_frozen(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, MINIMAL), environ={})
    with pytest.raises(AttributeError):
        cfg.event.name = "other"  # type: ignore[misc]


def test_unknown_key_is_an_error_with_a_hint(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "[transcribe]\nbeam_sise = 5\n")
    assert error_of(path) == "event.toml: transcribe.beam_sise: unknown key (did you mean 'beam_size'?)"


def test_unknown_table_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "[transcribtion]\nmodel = 'tiny.en'\n")
    assert error_of(path) == "event.toml: transcribtion: unknown table (did you mean 'transcribe'?)"


def test_unknown_model_suggests_the_close_one(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + '[transcribe]\nmodel = "tiny.eng"\n')
    assert error_of(path) == "event.toml: transcribe.model: unknown model 'tiny.eng' (did you mean 'tiny.en'?)"


def test_bad_type_names_key_and_expected_type(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + '[transcribe]\nbeam_size = "five"\n')
    assert error_of(path) == "event.toml: transcribe.beam_size: expected a whole number, got a string"


def test_bad_choice_lists_the_choices(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + '[recording]\nmode = "smrt"\n')
    assert error_of(path) == (
        "event.toml: recording.mode: must be one of 'smart', 'copy', 'reencode', got 'smrt' (did you mean 'smart'?)"
    )


def test_missing_file(tmp_path: Path) -> None:
    assert error_of(tmp_path / "nope.toml") == "nope.toml: file not found"


def test_missing_required_key(tmp_path: Path) -> None:
    path = write(tmp_path, '[event]\nname = "x"\n')
    assert error_of(path) == "event.toml: event.output_dir: missing required key"


def test_bad_relative_path_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + '[schedule]\nfile = "missing/schedule.json"\n')
    message = error_of(path)
    assert message.startswith("event.toml: schedule.file: file '")
    assert message.endswith("missing/schedule.json' does not exist")


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[event\nname=1")
    assert error_of(path).startswith("event.toml: not valid TOML:")


def test_inline_password_is_not_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + '[obs]\npassword = "hunter22"\n')
    message = error_of(path)
    assert message.startswith("event.toml: obs.password: unknown key")
    assert "hunter22" not in message


def test_secrets_come_from_environment_then_secrets_file(tmp_path: Path) -> None:
    write(tmp_path, 'obs_password = "from-file-pw"\n[keys]\nyoutube = "file-key-1234"\n', "secrets.toml")
    text = MINIMAL + '[[destinations]]\nname = "youtube"\nkind = "youtube"\n'
    cfg = load_config(write(tmp_path, text), environ={"TALKCAST_OBS_PASSWORD": "env-pw-5678"})
    assert cfg.obs.password is not None and cfg.obs.password.reveal() == "env-pw-5678"
    key = cfg.destinations[0].key
    assert key is not None and key.reveal() == "file-key-1234"
    assert "file-key-1234" not in repr(cfg) and "env-pw-5678" not in repr(cfg)
    assert str(key) == "****"


def test_duplicate_destination_names(tmp_path: Path) -> None:
    text = (
        MINIMAL
        + '[[destinations]]\nname = "a"\nurl = "rtmp://x/app"\n[[destinations]]\nname = "a"\nurl = "rtmp://y/app"\n'
    )
    assert error_of(write(tmp_path, text)) == "event.toml: destinations[1].name: 'a' is used twice"


def test_rtmp_destination_needs_an_rtmp_url(tmp_path: Path) -> None:
    text = MINIMAL + '[[destinations]]\nname = "a"\nurl = "http://x/app"\n'
    assert error_of(write(tmp_path, text)) == "event.toml: destinations[0].url: expected an rtmp:// or rtmps:// URL"


def test_model_folder_is_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "models" / "mine").mkdir(parents=True)
    cfg = load_config(write(tmp_path, MINIMAL + '[transcribe]\nmodel = "./models/mine"\n'), environ={})
    from talkcast.transcribe.models import model_table

    assert model_table(cfg.transcribe.model, cfg.base_dir) == {"default": str((tmp_path / "models" / "mine").resolve())}


def test_model_per_language_table(tmp_path: Path) -> None:
    from talkcast.transcribe.models import model_table

    text = MINIMAL + '[transcribe.model]\nen = "base.en"\nru = "large-v3-turbo"\n'
    cfg = load_config(write(tmp_path, text), environ={})
    # The table is completed with the built-in default for every other language.
    assert model_table(cfg.transcribe.model, cfg.base_dir) == {
        "en": "base.en",
        "ru": "large-v3-turbo",
        "default": "auto",
    }
    # One English-only name serves English only; one multilingual name serves everything.
    assert model_table("tiny.en", tmp_path) == {"en": "tiny.en", "default": "auto"}
    assert model_table("small", tmp_path) == {"default": "small"}
    bad = {
        '[transcribe.model]\nrussian = "base"\n': "transcribe.model.russian: 'russian' is not a Whisper language code",
        '[transcribe.model]\nru = "smal"\n': "transcribe.model.ru: unknown model 'smal' (did you mean 'small'?)",
        "[transcribe]\nmodel = 3\n": "transcribe.model: expected a string, got a number",
    }
    for extra, message in bad.items():
        assert message in error_of(write(tmp_path, MINIMAL + extra)), extra


def test_example_config_in_configs_is_valid() -> None:
    cfg = load_config(CONFIGS / "sre-meetup" / "event.toml", environ={})
    assert cfg.scenes.break_ == "Break"
    assert cfg.destinations[0].kind == "youtube"
    assert cfg.destinations[0].key_env == "TALKCAST_KEY_YOUTUBE"


def test_live_captions_are_off_unless_asked_and_their_budget_is_checked(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, MINIMAL), environ={}).captions.live is False
    (tmp_path / "models" / "fr").mkdir(parents=True)
    text = MINIMAL + '[captions]\nlive = true\nmultilingual_model = "./models/fr"\nstep = 0.5\n'
    cfg = load_config(write(tmp_path, text), environ={})
    assert cfg.captions.live and cfg.captions.model == "tiny.en" and cfg.captions.step == 0.5
    assert model_path(cfg.captions.multilingual_model, cfg.base_dir) == str((tmp_path / "models" / "fr").resolve())
    text = MINIMAL + "[captions]\nlive = true\nmax_behind = 0.5\n"
    assert error_of(write(tmp_path, text)) == "event.toml: captions.max_behind: 0.5 is out of range (2..60)"
    text = MINIMAL + '[captions]\nmodel = "tiny.eng"\n'
    assert (
        error_of(write(tmp_path, text))
        == "event.toml: captions.model: unknown model 'tiny.eng' (did you mean 'tiny.en'?)"
    )


def test_live_rooms_file_is_a_path_and_the_tokens_origin_is_remembered(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + '[live]\nrooms_file = "../shared/rooms.toml"\ntoken_env = "TALKCAST_TOKEN_MAIN"\n')
    cfg = load_config(path, environ={"TALKCAST_TOKEN_MAIN": "main-hall-token"})
    assert cfg.live.rooms_file == (tmp_path.parent / "shared" / "rooms.toml").resolve()
    assert cfg.live.token is not None and cfg.live.token.reveal() == "main-hall-token" and cfg.live.token_from_env
    write(tmp_path, 'live_token = "token-from-secrets-toml"\n', name="secrets.toml").chmod(0o600)
    cfg = load_config(path, environ={})
    assert cfg.live.token is not None and not cfg.live.token_from_env
    assert load_config(write(tmp_path, MINIMAL), environ={}).live.rooms_file is None


def test_the_tokens_origin_is_not_a_setting(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "[live]\ntoken_from_env = true\n")
    assert error_of(path).startswith("event.toml: live.token_from_env: unknown key")
