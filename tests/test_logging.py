import logging

from pedimentos.logging import MASK, RedactSecretsFilter, redact, register_secret


def test_registered_secret_masked_in_message(caplog):
    register_secret("s3cr3t<&>key")
    logger = logging.getLogger("pedimentos.test_redaction")
    logger.addFilter(RedactSecretsFilter())
    with caplog.at_level(logging.DEBUG, logger="pedimentos.test_redaction"):
        logger.debug("envelope: <Password>%s</Password>", "s3cr3t&lt;&amp;&gt;key")
        logger.info("raw %s", "s3cr3t<&>key")
    text = caplog.text
    assert "s3cr3t" not in text
    assert text.count(MASK) == 2


def test_short_values_not_registered():
    register_secret("ab")
    assert redact("ab cd") == "ab cd"


def test_exception_text_masked(caplog):
    register_secret("tok-123456789")
    logger = logging.getLogger("pedimentos.test_redaction_exc")
    logger.addFilter(RedactSecretsFilter())
    with caplog.at_level(logging.ERROR, logger="pedimentos.test_redaction_exc"):
        try:
            raise RuntimeError("header was Token tok-123456789")
        except RuntimeError:
            logger.exception("failed")
    assert "tok-123456789" not in caplog.text
