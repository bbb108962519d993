from django.conf import settings
from django.db.models.signals import pre_save
from django.dispatch import receiver


@receiver(pre_save, sender=settings.AUTH_USER_MODEL)
def revoke_tokens_when_the_password_changes(sender, instance, update_fields=None, **kwargs):
    """Whatever changes a password (the reset link, the admin, a shell), the user's API
    tokens go with the old one, in the same transaction when there is one."""
    if instance.pk is None or (update_fields is not None and "password" not in update_fields):
        return
    stored = sender.objects.filter(pk=instance.pk).values_list("password", flat=True).first()
    if stored is not None and stored != instance.password:
        from studio.tokens import revoke_all

        revoke_all(instance, reason="password changed")
