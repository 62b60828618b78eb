<?php
/**
 * Restriction of processing (GDPR art. 18): the account flag, the daemon's REST route that sets
 * it, and the "Restrict processing" form on Tools → Privacy Sync. Marketing stopping and the
 * refusal of any re-subscription while restricted are the daemon's (docs/CONSENT.md).
 *
 * @package wpprivsync
 */

defined( 'ABSPATH' ) || exit;

/**
 * Restriction of processing.
 */
class Wpprivsync_Restriction {

	/** User meta: the time (UTC, ISO 8601) processing was restricted; absent when not restricted. */
	const META = '_wpprivsync_restricted';
	/** The admin-post action (and nonce action) of the form. */
	const ACTION = 'wpprivsync_restrict';

	/**
	 * Adds the hooks.
	 */
	public static function register() {
		add_action( 'rest_api_init', array( __CLASS__, 'register_routes' ) );
		add_action( 'admin_post_' . self::ACTION, array( __CLASS__, 'handle_form' ) );
	}

	/**
	 * POST /restrict {email, restricted}: the daemon flags or unflags the account.
	 */
	public static function register_routes() {
		register_rest_route(
			Wpprivsync_Plugin::REST_NAMESPACE,
			'/restrict',
			array(
				'methods'             => WP_REST_Server::CREATABLE,
				'callback'            => array( __CLASS__, 'rest_restrict' ),
				'permission_callback' => array( 'Wpprivsync_Rest', 'can_sync' ),
				'args'                => array(
					'email'      => array(
						'type'              => 'string',
						'required'          => true,
						'maxLength'         => 254,
						'validate_callback' => array( 'Wpprivsync_Rest', 'validate_email' ),
						'sanitize_callback' => array( 'Wpprivsync_Plugin', 'normalise_email' ),
					),
					'restricted' => array(
						'type'     => 'boolean',
						'required' => true,
					),
				),
			)
		);
	}

	/**
	 * Whether a user's processing is restricted.
	 *
	 * @param int $user_id User id.
	 * @return bool
	 */
	public static function is_restricted( $user_id ) {
		return '' !== (string) get_user_meta( (int) $user_id, self::META, true );
	}

	/**
	 * The REST callback.
	 *
	 * @param WP_REST_Request $request Request.
	 * @return WP_REST_Response|WP_Error
	 */
	public static function rest_restrict( WP_REST_Request $request ) {
		$user = get_user_by( 'email', $request['email'] );
		if ( ! $user ) {
			return new WP_Error( 'wpprivsync_no_user', __( 'No user has this email address.', 'wpprivsync' ), array( 'status' => 404 ) );
		}
		$wanted  = (bool) $request['restricted'];
		$changed = self::is_restricted( $user->ID ) !== $wanted;
		if ( $changed && $wanted ) {
			update_user_meta( (int) $user->ID, self::META, gmdate( 'Y-m-d\TH:i:s\Z' ) );
		} elseif ( $changed ) {
			delete_user_meta( (int) $user->ID, self::META );
		}
		return rest_ensure_response(
			array(
				'user_id' => (int) $user->ID,
				'changed' => $changed,
			)
		);
	}

	/**
	 * The form: an outbox event for the daemon, which flags the account, unsubscribes and
	 * records the restriction (or its lifting).
	 */
	public static function handle_form() {
		if ( ! current_user_can( Wpprivsync_Plugin::CAPABILITY ) ) {
			wp_die( esc_html__( 'Sorry, you are not allowed to do that.', 'wpprivsync' ), 403 );
		}
		check_admin_referer( self::ACTION );
		$email = isset( $_POST['email'] ) ? Wpprivsync_Plugin::normalise_email( sanitize_text_field( wp_unslash( $_POST['email'] ) ) ) : '';
		$url   = admin_url( 'tools.php?page=' . Wpprivsync_Admin::PAGE );
		if ( ! is_email( $email ) ) {
			wp_safe_redirect( add_query_arg( 'wpprivsync_notice', 'bad_email', $url ) );
			exit;
		}
		$lift   = ! empty( $_POST['lift'] );
		$id     = Wpprivsync_Outbox::record(
			'restriction.requested',
			array(
				'email'  => $email,
				'lift'   => $lift,
				'source' => 'admin-page',
			)
		);
		$notice = $id > 0 ? ( $lift ? 'wpprivsync_restrict_lift' : self::ACTION ) : 'not_recorded';
		wp_safe_redirect( add_query_arg( 'wpprivsync_notice', $notice, $url ) );
		exit;
	}

	/**
	 * The "Restrict processing" section of Tools → Privacy Sync, with its notice.
	 */
	public static function render_form() {
		$notice = isset( $_GET['wpprivsync_notice'] ) ? sanitize_key( wp_unslash( $_GET['wpprivsync_notice'] ) ) : ''; // phpcs:ignore WordPress.Security.NonceVerification.Recommended -- a display code only.
		$texts  = array(
			self::ACTION               => __( 'Restriction of processing was handed to the daemon.', 'wpprivsync' ),
			'wpprivsync_restrict_lift' => __( 'Lifting the restriction was handed to the daemon.', 'wpprivsync' ),
		);
		?>
		<h3><?php esc_html_e( 'Restrict processing', 'wpprivsync' ); ?></h3>
		<?php if ( isset( $texts[ $notice ] ) ) : ?>
			<div class="notice notice-success inline wpprivsync-restrict-notice"><p><?php echo esc_html( $texts[ $notice ] ); ?></p></div>
		<?php endif; ?>
		<p><?php esc_html_e( 'GDPR art. 18: the newsletter stops (the contact is kept, unsubscribed), the account is flagged, nothing is erased, and no new consent re-subscribes the person until the restriction is lifted. An objection to marketing is an unsubscribe.', 'wpprivsync' ); ?></p>
		<form method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>" id="wpprivsync-restrict-form" class="wpprivsync-form">
			<input type="hidden" name="action" value="<?php echo esc_attr( self::ACTION ); ?>" />
			<?php wp_nonce_field( self::ACTION ); ?>
			<label for="wpprivsync-restrict-email" class="screen-reader-text"><?php esc_html_e( 'Email', 'wpprivsync' ); ?></label>
			<input type="email" required name="email" id="wpprivsync-restrict-email" class="regular-text" placeholder="<?php esc_attr_e( 'person@example.com', 'wpprivsync' ); ?>" />
			<label><input type="checkbox" name="lift" value="1" id="wpprivsync-restrict-lift" /> <?php esc_html_e( 'Lift the restriction', 'wpprivsync' ); ?></label>
			<button type="submit" class="button button-primary"><?php esc_html_e( 'Restrict processing', 'wpprivsync' ); ?></button>
		</form>
		<?php
	}
}
