from oauth2_provider.oauth2_validators import OAuth2Validator


class ClaimsValidator(OAuth2Validator):
    """Puts the claims the studio reads into the ID token and the userinfo answer, as a
    hospital's provider would: a username and the person's groups."""

    oidc_claim_scope = None  # every claim for every scope

    def get_additional_claims(self, request):
        user = request.user
        return {
            "preferred_username": user.username,
            "email": user.email,
            "groups": sorted(user.groups.values_list("name", flat=True)),
        }
