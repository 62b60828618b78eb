<?php
/**
 * Newsletter consent: the user meta, the profile checkbox, WooCommerce's checkout checkbox.
 *
 * @package wpprivsync
 */

defined( 'ABSPATH' ) || exit;

require_once __DIR__ . '/class-wpprivsync-identity.php';
require_once __DIR__ . '/class-wpprivsync-restriction.php';

/**
 * Consent capture.
 */
class Wpprivsync_Consent {

	const NONCE = 'wpprivsync_profile_consent';
	/** Option: the version of the consent wording the site shows (the policy's [consent.wording] names its text). */
	const OPTION_WORDING = 'wpprivsync_consent_wording';

	/**
	 * Where the change being saved comes from ('meta' unless a form of ours is saving).
	 *
	 * @var string
	 */
	private static $source = 'meta';

	/**
	 * Adds the hooks.
	 */
	public static function register() {
		Wpprivsync_Identity::register();
		Wpprivsync_Restriction::register();
		add_action( 'added_user_meta', array( __CLASS__, 'on_meta_written' ), 10, 4 );
		add_action( 'updated_user_meta', array( __CLASS__, 'on_meta_written' ), 10, 4 );
		add_action( 'deleted_user_meta', array( __CLASS__, 'on_meta_deleted' ), 10, 4 );

		add_action( 'show_user_profile', array( __CLASS__, 'render_profile_field' ) );
		add_action( 'edit_user_profile', array( __CLASS__, 'render_profile_field' ) );
		add_action( 'personal_options_update', array( __CLASS__, 'save_profile_field' ) );
		add_action( 'edit_user_profile_update', array( __CLASS__, 'save_profile_field' ) );

		add_action( 'woocommerce_review_order_before_submit', array( __CLASS__, 'render_checkout_field' ) );
		add_action( 'woocommerce_checkout_order_processed', array( __CLASS__, 'save_checkout_field' ), 10, 3 );
	}

	/**
	 * The version of the consent wording shown (GDPR art. 7(1)): the option, "1" unless set.
	 *
	 * @return string
	 */
	public static function wording_version() {
		$version = trim( (string) get_option( self::OPTION_WORDING, '1' ) );
		return ( '' === $version || strlen( $version ) > 64 ) ? '1' : $version;
	}

	/**
	 * Whether a meta value means "subscribed".
	 *
	 * @param mixed $value Meta value.
	 * @return bool
	 */
	public static function is_yes( $value ) {
		return in_array( is_string( $value ) ? strtolower( $value ) : $value, array( true, 1, '1', 'yes', 'true', 'on' ), true );
	}

	/**
	 * A user's current consent.
	 *
	 * @param int $user_id User id.
	 * @return bool
	 */
	public static function user_consent( $user_id ) {
		return self::is_yes( get_user_meta( (int) $user_id, Wpprivsync_Plugin::CONSENT_META, true ) );
	}

	/**
	 * Sets a user's consent; returns whether it changed.
	 *
	 * @param int    $user_id    User id.
	 * @param bool   $subscribed Consent.
	 * @param string $source     Where the change comes from.
	 * @return bool
	 */
	public static function set( $user_id, $subscribed, $source = 'meta' ) {
		$before       = get_user_meta( (int) $user_id, Wpprivsync_Plugin::CONSENT_META, true );
		$previous     = self::$source;
		self::$source = $source;
		try {
			update_user_meta( (int) $user_id, Wpprivsync_Plugin::CONSENT_META, $subscribed ? '1' : '0' );
		} finally {
			self::$source = $previous;
		}
		return '' === $before || self::is_yes( $before ) !== (bool) $subscribed;
	}

	/**
	 * The added_user_meta / updated_user_meta actions.
	 *
	 * @param int    $meta_id    Meta id.
	 * @param int    $user_id    User id.
	 * @param string $meta_key   Key.
	 * @param mixed  $meta_value Value.
	 */
	public static function on_meta_written( $meta_id, $user_id, $meta_key, $meta_value ) {
		if ( Wpprivsync_Plugin::CONSENT_META !== $meta_key ) {
			return;
		}
		self::record( (int) $user_id, self::is_yes( $meta_value ) );
	}

	/**
	 * The deleted_user_meta action: deleting the flag withdraws consent (unless the user is going).
	 *
	 * @param string[] $meta_ids   Meta ids.
	 * @param int      $user_id    User id.
	 * @param string   $meta_key   Key.
	 * @param mixed    $meta_value Value.
	 */
	public static function on_meta_deleted( $meta_ids, $user_id, $meta_key, $meta_value ) {
		if ( Wpprivsync_Plugin::CONSENT_META !== $meta_key || Wpprivsync_Hooks::is_deleting( (int) $user_id ) ) {
			return;
		}
		self::record( (int) $user_id, false );
	}

	/**
	 * Records consent.changed.
	 *
	 * @param int  $user_id User id.
	 * @param bool $consent Consent.
	 */
	private static function record( $user_id, $consent ) {
		$user = get_userdata( $user_id );
		if ( ! $user ) {
			return;
		}
		$proof = Wpprivsync_Identity::proof( $user_id, $user->user_email );
		if ( '' === $proof ) {
			// An email the user never proved to own: nothing outside WordPress changes.
			Wpprivsync_Identity::record_unproven( $user_id, $user->user_email, $consent ? 'consent-given' : 'consent-withdrawn' );
			if ( $consent ) {
				Wpprivsync_Identity::send_link( $user_id, $user->user_email, self::$source );
			}
			return;
		}
		Wpprivsync_Outbox::record(
			'consent.changed',
			array(
				'user_id' => $user_id,
				'email'   => Wpprivsync_Plugin::normalise_email( $user->user_email ),
				'consent' => (bool) $consent,
				'source'  => self::$source,
				'proof'   => $proof,
				'wording' => self::wording_version(),
			)
		);
	}

	/**
	 * The checkbox on the profile page.
	 *
	 * @param WP_User $user The user being edited.
	 */
	public static function render_profile_field( $user ) {
		wp_nonce_field( self::NONCE, self::NONCE );
		?>
		<h2><?php esc_html_e( 'Newsletter', 'wpprivsync' ); ?></h2>
		<table class="form-table" role="presentation">
			<tr>
				<th scope="row"><?php esc_html_e( 'Newsletter', 'wpprivsync' ); ?></th>
				<td>
					<label for="wpprivsync-newsletter">
						<input type="checkbox" name="wpprivsync_newsletter" id="wpprivsync-newsletter" value="1" <?php checked( self::user_consent( $user->ID ) ); ?> />
						<?php esc_html_e( 'Send me the newsletter', 'wpprivsync' ); ?>
					</label>
				</td>
			</tr>
		</table>
		<?php
	}

	/**
	 * Saves the profile checkbox.
	 *
	 * @param int $user_id User id.
	 */
	public static function save_profile_field( $user_id ) {
		if ( ! current_user_can( 'edit_user', $user_id ) ) {
			return;
		}
		if ( ! isset( $_POST[ self::NONCE ] ) || ! wp_verify_nonce( sanitize_text_field( wp_unslash( $_POST[ self::NONCE ] ) ), self::NONCE ) ) {
			return;
		}
		$wanted = ! empty( $_POST['wpprivsync_newsletter'] );
		$had    = get_user_meta( (int) $user_id, Wpprivsync_Plugin::CONSENT_META, true );
		if ( '' === $had && ! $wanted ) {
			return; // Never asked, still not asked: no change.
		}
		// An administrator ticking or unticking someone else's box records "admin".
		self::set( (int) $user_id, $wanted, get_current_user_id() === (int) $user_id ? 'profile' : 'admin' );
	}

	/**
	 * The checkbox on WooCommerce's checkout.
	 */
	public static function render_checkout_field() {
		$checked = is_user_logged_in() && self::user_consent( get_current_user_id() );
		?>
		<p class="form-row wpprivsync-newsletter">
			<label class="woocommerce-form__label woocommerce-form__label-for-checkbox checkbox">
				<input type="checkbox" class="woocommerce-form__input woocommerce-form__input-checkbox input-checkbox" name="wpprivsync_newsletter" id="wpprivsync-newsletter" value="1" <?php checked( $checked ); ?> />
				<span><?php esc_html_e( 'Send me the newsletter', 'wpprivsync' ); ?></span>
			</label>
		</p>
		<?php
	}

	/**
	 * Saves the checkout checkbox (WooCommerce verified its own checkout nonce before this runs).
	 *
	 * @param int      $order_id    Order id.
	 * @param array    $posted_data Posted checkout data.
	 * @param WC_Order $order       The order.
	 */
	public static function save_checkout_field( $order_id, $posted_data = array(), $order = null ) {
		try {
			$wanted = ! empty( $_POST['wpprivsync_newsletter'] ); // phpcs:ignore WordPress.Security.NonceVerification.Missing
			$user   = $order && is_callable( array( $order, 'get_customer_id' ) ) ? (int) $order->get_customer_id() : get_current_user_id();
			if ( $user > 0 ) {
				$had = get_user_meta( $user, Wpprivsync_Plugin::CONSENT_META, true );
				if ( '' === $had && ! $wanted ) {
					return;
				}
				self::set( $user, $wanted, 'checkout' );
				return;
			}
			if ( $wanted && $order && is_callable( array( $order, 'get_billing_email' ) ) && is_email( $order->get_billing_email() ) ) {
				// A guest who ticks the box proves nothing (checkout takes any billing email): the
				// address's owner confirms by the mailed link, which then records the consent.
				Wpprivsync_Identity::record_unproven( 0, $order->get_billing_email(), 'guest-checkout' );
				Wpprivsync_Identity::send_link( 0, $order->get_billing_email(), 'checkout' );
			}
		} catch ( Throwable $e ) {
			error_log( 'wpprivsync: checkout consent not recorded: ' . $e->getMessage() ); // phpcs:ignore WordPress.PHP.DevelopmentFunctions.error_log_error_log
		}
	}
}
