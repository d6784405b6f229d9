"""The opt-in hub path, exercised offline: a real LlavaProcessor built locally, a tiny LLaVA, generated items."""

import pytest
import torch
import transformers as tf
from tokenizers import Tokenizer, models, pre_tokenizers

import scale_lib as sl
from scale_lib.data.spatial import generate_items
from scale_lib.models import hub_vlm
from scale_lib.scaling.adapt import adapt

CHAT = ("{% for m in messages %}USER: {% for c in m['content'] %}{% if c['type'] == 'image' %}<image> {% else %}{{ c['text'] }}{% endif %}"
        "{% endfor %}{% endfor %}{% if add_generation_prompt %} ASSISTANT:{% endif %}")


@pytest.fixture(scope="module")
def processor():
    items = generate_items("spatial_grid", 4, modalities=("vqa",))
    words = sorted({w for i in items for w in (i.prompt() + " USER : ASSISTANT").replace("\n", " ").split()} | set("ABCD"))
    vocab = {w: k for k, w in enumerate(["<pad>", "<unk>", "<image>", *words])}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok = tf.PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", unk_token="<unk>", additional_special_tokens=["<image>"])
    image_processor = tf.CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    return tf.LlavaProcessor(image_processor=image_processor, tokenizer=tok, patch_size=8, vision_feature_select_strategy="default",
                             chat_template=CHAT, num_additional_image_tokens=1)


def tiny_llava(processor):
    model = sl.tiny_model("llava", layers=2, hidden=64, heads=4, kv_heads=2, vocab_size=len(processor.tokenizer))
    model.config.image_token_id = processor.tokenizer.convert_tokens_to_ids("<image>")  # the tiny model's CLIP: 32 px, patch 8
    return model


def test_encode_left_pads_expands_images_and_labels_letters(processor):
    items = generate_items("spatial_grid", 3, modalities=("vqa",), qtypes=("q1", "exist"))
    batch = hub_vlm.encode(processor, items, cell=8)
    assert len(batch) == len(items) and (batch.tensors["attention_mask"][:, -1] == 1).all()
    image_id = processor.tokenizer.convert_tokens_to_ids("<image>")
    assert ((batch.tensors["input_ids"] == image_id).sum(1) == 16).all()  # (32 / 8)² patches per image
    letters = [processor.tokenizer.convert_ids_to_tokens(int(t)) for t in batch.labels]
    assert letters == [i.answer_letter for i in items]
    assert ((batch.option_ids >= 0).sum(1) == torch.tensor([len(i.options) for i in items])).all()
    assert batch.inputs(slice(0, 2))["pixel_values"].shape[0] == 2


def test_adapt_runs_on_encoded_hub_items(processor):
    model = tiny_llava(processor)
    items = generate_items("spatial_grid", 3, modalities=("vqa",), qtypes=("q1",))
    batch = hub_vlm.encode(processor, items, cell=8)
    run = adapt(model, "scale", batch, steps=2, batch_size=2, progress=False)
    assert run.n_params == 2 * (4 + 1) and 0 <= run.accuracy(batch)["spatial"] <= 1


def test_bad_inputs_say_what_to_do(processor, monkeypatch):
    with pytest.raises(ValueError, match="have no image"):
        hub_vlm.encode(processor, generate_items("spatial_grid", 1, modalities=("tqa",)))
    with pytest.raises(ValueError, match="' x A' is 2 tokens"):
        hub_vlm.encode(processor, generate_items("spatial_grid", 1, modalities=("vqa",)), answer_prefix=" x ")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConnectionError, match="HF_HUB_OFFLINE=1"):
        hub_vlm.load_hub_vlm()


def test_spatialeval_rows_become_items(caplog):
    rows = [dict(id="spatialgrid.1", task="spatial_grid", prompt="Which? A. cat B. dog", option="B", image=None),
            dict(id="spatialgrid.2", task="spatial_grid", prompt="Which?", option="(c)", image=None),
            dict(id="mazenav.3", task="maze_nav", prompt="How many?", option=None, image=None)]
    with caplog.at_level("WARNING", logger="scale_lib.models.hub_vlm"):
        items = hub_vlm.spatialeval_items(rows)
    assert "skipped 1 of 3 rows" in caplog.text  # logged, not printed
    assert [i.answer_index for i in items] == [1, 2] and items[0].options == ("A", "B", "C", "D")
    assert items[0].prompt().endswith("Answer with the option's letter.")
    with pytest.raises(ValueError, match="none of the 1 rows"):
        hub_vlm.spatialeval_items(rows[2:])


def test_encoding_in_chunks_gives_the_same_batch_and_minibatches_move_to_the_device(processor):
    pool = generate_items("spatial_grid", 12, modalities=("vqa",), qtypes=("q1", "exist"))
    size = {i.id: len(processor.tokenizer(i.prompt())["input_ids"]) for i in pool}
    short = [i for i in pool if size[i.id] == min(size.values())]
    long = [i for i in pool if size[i.id] > min(size.values())]
    items = [long[0], short[0], short[1], short[2], long[1]]  # the middle chunk holds only short prompts: it is left-padded on merging
    widths = [hub_vlm.encode(processor, items[s : s + 2], cell=8).tensors["input_ids"].shape[1] for s in (0, 2)]
    assert widths[1] < widths[0]
    whole = hub_vlm.encode(processor, items, cell=8)
    chunked = hub_vlm.encode(processor, items, cell=8, batch_size=2, device="cpu")
    assert whole.tensors.keys() == chunked.tensors.keys()
    for k, v in whole.tensors.items():
        assert torch.equal(v, chunked.tensors[k]), k
    assert chunked.device == "cpu" and chunked.inputs([0, 3])["input_ids"].shape[0] == 2
