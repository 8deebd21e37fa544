import pytest

from tests.tiny import tiny_bert, tiny_cnn, tiny_gpt2, tiny_llama, tiny_vit


@pytest.fixture
def bert():
    return tiny_bert()


@pytest.fixture
def gpt2():
    return tiny_gpt2()


@pytest.fixture
def llama():
    return tiny_llama()


@pytest.fixture
def vit():
    return tiny_vit()


@pytest.fixture
def cnn():
    return tiny_cnn()
